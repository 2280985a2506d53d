"""The policy engine: prevention and control protocols as versioned, explainable profiles.

Pure: takes and returns plain values; never imports the database, the API, the web or the CLI.
"""
