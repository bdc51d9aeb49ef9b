"""HTTP data plane: codecs (codec.py, h1.py, h2.py), header rules (headers.py), and what is built on them."""
