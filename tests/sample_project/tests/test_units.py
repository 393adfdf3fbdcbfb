from shop.units import kg_to_lb, lb_to_kg


def test_round_trip():
    assert kg_to_lb(1) == 2.205
    assert lb_to_kg(2.205) == 1.0
