#!./exec_script.sh
# An interpreter that is itself a #! script.
