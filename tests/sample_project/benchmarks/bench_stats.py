"""Times ``shop.stats.repeat_customers`` on a fixed data set: ``python -m benchmarks.bench_stats``.

Prints ``seconds=<best of five runs>`` on its last line (what performance-optimization.yaml reads).
"""

import timeit

from shop.stats import repeat_customers

CUSTOMERS = [f"c{(i * 7919) % 1500}" for i in range(3000)]


def main() -> None:
    best = min(timeit.repeat(lambda: repeat_customers(CUSTOMERS), number=1, repeat=5))
    print(f"customers={len(CUSTOMERS)} repeated={len(repeat_customers(CUSTOMERS))}")
    print(f"seconds={best:.6f}")


if __name__ == "__main__":
    main()
