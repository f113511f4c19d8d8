"""Decision rules: from a run's tables to verdicts on the claim.

The shared vocabulary and its statistics (vocabulary), whether a comparison is a fair one of receptive-field
designs (padding), the accuracy comparisons' designs and their group-sequential statistics (designs,
sequential, design_check), and one module of rules per measurement kind (static, pairs, train, erf, density).
Rules read tables and return rows; they neither run trials nor write files."""
