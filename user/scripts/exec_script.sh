#!./exec_echo  one  two 
# exec checks the argv Linux builds for this script: the interpreter,
# its one argument ("one  two"), the script, the original argv[1..].
