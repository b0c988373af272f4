"""Defaults shared by the VAS code and its command line, kept free of imports so the CLI stays fast to start."""

# candidates scored by the value model per decoding step: the reference's VASLogitsProcessor(topk=20)
# (idanshen/Value-Augmented-Sampling, vas_trainer.py). Each step costs one forward of batch x top_k tokens.
DEFAULT_TOP_K = 20
