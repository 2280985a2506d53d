"""fangkong: epidemic prevention and control command platform."""
