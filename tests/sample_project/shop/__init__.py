"""A small shop: prices, stock, orders, unit conversions, statistics and exports."""
