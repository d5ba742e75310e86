print("VRRPHarness: not yet")
