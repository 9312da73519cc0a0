"""Development tools: the sample-data generator, the benchmark, workbook renders.

Not part of the installed package (the wheel holds closebook/, flows/ and sql/ only).
"""
