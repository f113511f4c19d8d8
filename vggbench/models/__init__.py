"""What a model is: specifications as validated data (arch), the modules built from them (vgg, the only
module here that imports torch) and the identity columns every table's rows start with (schema)."""
