"""The data pipeline's building blocks.

Sources, segmentation, quality rules, mutations, Delta tables, Spark and the data report.
"""
