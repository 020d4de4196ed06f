"""`make bench`: a fixed data set, load on loopback, figures as ratios to a bare Flask page."""
