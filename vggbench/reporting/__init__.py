"""What a finished run says: the claim report (claim), figures and the HTML page (report), tables for the
terminal (terminal), publishing into results/ (publish) and two runs side by side (compare)."""
