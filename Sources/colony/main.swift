print("colony")
