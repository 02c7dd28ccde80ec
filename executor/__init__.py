"""The executor process: runs uploaded robot projects."""
