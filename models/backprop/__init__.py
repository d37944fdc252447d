"""Backpropagation written out: every layer of the core with a hand-written backward pass,
a whole-model `HandTransformer`, and AdamW by hand. Held to autograd by tests (float64,
relative error ≤ 1e-8) and by `txdata gradcheck`; trains the core with
`txdata train --backprop manual`."""
