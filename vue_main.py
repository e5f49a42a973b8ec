import os
print(open("data/x.txt").read().strip(), os.path.exists("proj"))
