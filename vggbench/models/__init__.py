"""What a model is: specifications as validated data (arch), the modules built from them (vgg), the variants of
any user's module (twins; vgg and twins are the only modules here that import torch) and the identity columns
every table's rows start with (schema)."""
