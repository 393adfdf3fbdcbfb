from shop.inventory import Item, low_stock, total_weight

ITEMS = [Item("mug", 0.4, 10), Item("kettle", 1.5, 2)]


def test_total_weight():
    assert total_weight(ITEMS) == 7.0


def test_low_stock():
    assert low_stock(ITEMS) == ["kettle"]
