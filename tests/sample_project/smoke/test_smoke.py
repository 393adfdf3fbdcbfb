"""Smoke tests of a deployed shop service at ``$BASE_URL`` (deployment-validation.yaml runs them)."""

import json
import os
import urllib.request

BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:8000")


def get(path):
    with urllib.request.urlopen(BASE_URL + path, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_health():
    status, body = get("/health")
    assert status == 200
    assert body["status"] == "ok"


def test_products_are_listed():
    status, body = get("/products")
    assert status == 200
    assert body and all({"sku", "price"} <= set(product) for product in body)


def test_a_quote_adds_up():
    status, body = get("/quote?sku=MUG-1&quantity=3")
    assert status == 200
    assert body["total"] == round(body["unit_price"] * 3, 2)
