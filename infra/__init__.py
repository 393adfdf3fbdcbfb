"""The Baton CDK app: one construct per concern, composed in ``infra.stack.BatonStack``."""
