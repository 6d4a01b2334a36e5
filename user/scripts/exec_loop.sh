#!./exec_loop.sh
# Its own interpreter: exec gives up with ELOOP.
