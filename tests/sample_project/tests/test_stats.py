from shop.stats import average_order, repeat_customers


def test_repeat_customers_in_first_order():
    assert repeat_customers(["b", "a", "c", "a", "b", "b"]) == ["b", "a"]


def test_no_repeats():
    assert repeat_customers(["a", "b"]) == []


def test_average_order():
    assert average_order([10.0, 20.0]) == 15.0
    assert average_order([]) == 0.0
