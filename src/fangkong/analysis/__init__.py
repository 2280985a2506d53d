"""Pure analysis libraries (pool size advice, sampling-site coverage): plain typed values in and out."""
