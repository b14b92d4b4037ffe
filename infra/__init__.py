"""The Let's Live CDK app: `app.py` composes stacks, stacks compose constructs."""
