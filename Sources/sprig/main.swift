print("sprig")
