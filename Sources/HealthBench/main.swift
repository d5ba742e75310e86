print("HealthBench: not yet")
