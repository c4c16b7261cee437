"""Sound-matching experiment suite for SCRAPL (Mitcheltree et al., ICLR 2026)."""
