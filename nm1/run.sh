echo from run.sh
