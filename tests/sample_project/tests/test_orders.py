from shop.orders import find_line, parse_order


def test_parse_order_adds_up_repeated_lines():
    assert parse_order("MUG-1 x2\n\nKETTLE-3\nMUG-1 x3\n") == {"MUG-1": 5, "KETTLE-3": 1}


def test_find_line():
    lines = ["MUG-1 x2", "KETTLE-3"]
    assert find_line(lines, "KETTLE-3") == 1
    assert find_line(lines, "MUG") is None
