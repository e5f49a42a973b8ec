print("from b")
