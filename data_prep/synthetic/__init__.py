"""The embedded default: a synthetic Human3.6M-shaped dataset that c2f generates itself."""
