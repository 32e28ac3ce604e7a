// A shared library without the plugin exports: the host must refuse it with its reason.
extern "C" int lxhost_test_not_a_plugin() { return 1; }
