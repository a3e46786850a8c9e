"""Feed readers: each turns one vulnerability feed into Advisory and Rejection objects."""
