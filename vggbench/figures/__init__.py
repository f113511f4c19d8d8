"""The figures of each kind, one module per kind (`Kind.figures` declares them), with their shared looks (`look`);
the report draws them. matplotlib is imported only where a figure is drawn."""
