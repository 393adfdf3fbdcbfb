from shop.pricing import subtotal


def test_subtotal():
    assert subtotal([2.0, 3.5], [3, 2]) == 13.0
