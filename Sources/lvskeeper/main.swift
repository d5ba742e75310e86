print("lvskeeper")
