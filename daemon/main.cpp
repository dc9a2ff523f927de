// build/bin/llmd: the daemon (serve, check-config) and the engine commands.
#include "daemon/app/app.hpp"

int main(int argc, char** argv) { return llmd::daemon::main_entry(argc, argv); }
