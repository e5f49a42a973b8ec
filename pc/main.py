print("hello from the python client")
