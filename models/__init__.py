"""The from-scratch transformer core: built in the next issue (training both modes)."""
