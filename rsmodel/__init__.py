"""rsmodel: train, evaluate and publish transformers ``CLIPModel`` models for remote sensing.

``rsmodel train`` (a transformers ``Trainer`` with the global contrastive loss), ``rsmodel eval`` (the RemoteCLIP
protocols on cached embeddings), ``rsmodel publish`` (weights, processor and a benchmark card to the Hub),
``rsmodel convert`` (open_clip checkpoints to and from ``CLIPModel``) and ``rsmodel env`` (what the machine offers).
"""

__version__ = "0.1.0"
