// Writes a plugin test scene into a folder: copies of the Lift Pot MJCF, a small
// policy checkpoint and scene.xml (controller + task + sensors), for host_minimal.
//   make_scene DIR
#include <stdio.h>
#include <sys/stat.h>

#include "nfp/error.h"
#include "scene.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_scene DIR\n");
    return 2;
  }
  const char* dir = argv[1];
  mkdir(dir, 0755);
  char ckpt[1024];
  snprintf(ckpt, sizeof(ckpt), "%s/policy.safetensors", dir);
  if (scene_copy_assets(dir) || scene_checkpoint(ckpt, 1)) {
    fprintf(stderr, "make_scene: %s\n", nfp_error_last());
    return 1;
  }
  char body[2048];
  snprintf(body, sizeof(body),
           "  <extension>\n"
           "    <plugin plugin=\"nfp.controller\"><instance name=\"policy\">\n"
           "      <config key=\"checkpoint\" value=\"%s\"/>\n"
           "    </instance></plugin>\n"
           "    <plugin plugin=\"nfp.task\"><instance name=\"task\">\n"
           "      <config key=\"task\" value=\"lift_pot\"/>\n"
           "    </instance></plugin>\n"
           "  </extension>\n"
           "  <sensor><plugin name=\"success\" instance=\"task\"/>"
           "<plugin name=\"control_steps\" instance=\"task\"/>"
           "<plugin name=\"done\" instance=\"task\"/></sensor>", ckpt);
  if (scene_mjcf(dir, "scene.xml", body)) {
    fprintf(stderr, "make_scene: cannot write %s/scene.xml\n", dir);
    return 1;
  }
  printf("%s/scene.xml\n", dir);
  return 0;
}
