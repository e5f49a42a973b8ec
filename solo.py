print("only file")
