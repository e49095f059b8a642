/* The fake board's entities: the same table as VECTOR_BOARD in firmware-bridge/host/vectors.ts
 * (the schema hash in the vectors pins it). */
#ifndef DEMO_ENTITIES_H
#define DEMO_ENTITIES_H
#include "xiota_bridge.h"
static const xb_entity DEMO_ENTITIES[] = {
  { 1, "temperature", "\xc2\xb0" "C", XB_KIND_NUMERIC, 1, -400, 1250, 0 },
  { 2, "humidity", "%", XB_KIND_NUMERIC, 0, 0, 100, 0 },
  { 10, "relay", "", XB_KIND_BOOL, 0, 0, 1, 1 },
  { 11, "setpoint", "\xc2\xb0" "C", XB_KIND_INT, 0, 5, 30, 1 },
};
#define DEMO_N 4
#endif
