KG_PER_LB = 0.45359237


def kg_to_lb(kg: float) -> float:
    return round(kg / KG_PER_LB, 3)


def lb_to_kg(lb: float) -> float:
    return round(lb * KG_PER_LB, 3)
