"""Nucleic acid testing (核酸检测): sites, rounds, tubes, shipments, labs, results, coverage."""
