"""The Hugging Face Space: its README (front matter) and the script that builds it."""
