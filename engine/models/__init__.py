"""The face models: what each network is (MTCNN, InceptionResnetV1, their weights files) and how it
runs (torch, or numpy for a cold query on the CPU), and faces found in frames with them."""
