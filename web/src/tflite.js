// Just enough of the .tflite flatbuffer (schema.fbs) to run the any-size graph at one size.
//
// LiteRT.js 2.5 compiles fixed shapes only: a signature whose input is [1, -1, -1, C] is
// refused ("does not match expected ranked tensor type"). The server runs that graph at
// any size by resizing its input. Here the same bytes get the chosen size written into the
// graph's input and output tensors (shape and shape_signature, in place: same lengths), and
// LiteRT works out the rest of the shapes when it compiles, as the server's interpreter does.

// Field indices in schema.fbs.
const MODEL_SUBGRAPHS = 2;
const MODEL_SIGNATURE_DEFS = 7;
const SUBGRAPH_TENSORS = 0;
const SUBGRAPH_INPUTS = 1;
const SUBGRAPH_OUTPUTS = 2;
const TENSOR_SHAPE = 0;
const TENSOR_SHAPE_SIGNATURE = 7;
const SIGNATURE_KEY = 2;
const SIGNATURE_SUBGRAPH_INDEX = 4;

class Reader {
  constructor(bytes) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  root() {
    return this.view.getUint32(0, true);
  }

  /** Position of field `index` of the table at `table`, or 0 when it is absent. */
  field(table, index) {
    const vtable = table - this.view.getInt32(table, true);
    const at = 4 + 2 * index;
    if (at >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + at, true);
    return offset ? table + offset : 0;
  }

  indirect(position) {
    return position + this.view.getUint32(position, true);
  }

  vector(table, index) {
    const position = this.field(table, index);
    if (!position) return {length: 0, start: 0};
    const start = this.indirect(position);
    return {length: this.view.getUint32(start, true), start: start + 4};
  }

  table(vector, i) {
    return this.indirect(vector.start + 4 * i);
  }

  int(vector, i) {
    return this.view.getInt32(vector.start + 4 * i, true);
  }

  string(table, index) {
    const position = this.field(table, index);
    if (!position) return '';
    const start = this.indirect(position);
    const length = this.view.getUint32(start, true);
    const bytes = new Uint8Array(this.view.buffer, this.view.byteOffset + start + 4, length);
    return new TextDecoder().decode(bytes);
  }
}

/** The subgraph index of each signature: {serving_default: 0, static_256x256: 1, ...}. */
export function signatureSubgraphs(bytes) {
  const reader = new Reader(bytes);
  const model = reader.root();
  const signatures = reader.vector(model, MODEL_SIGNATURE_DEFS);
  const result = {};
  for (let i = 0; i < signatures.length; i++) {
    const signature = reader.table(signatures, i);
    const position = reader.field(signature, SIGNATURE_SUBGRAPH_INDEX);
    result[reader.string(signature, SIGNATURE_KEY)] = position ? reader.view.getUint32(position, true) : 0;
  }
  return result;
}

/** A copy of `bytes` whose signature `name` takes (1, height, width, C) and gives
 * (1, height, width, K): the -1 sides of its inputs and outputs become height and width. */
export function pinSignatureSize(bytes, name, height, width) {
  const subgraphIndex = signatureSubgraphs(bytes)[name];
  if (subgraphIndex === undefined) throw new Error(`the model has no signature ${name}`);
  const copy = bytes.slice();
  const reader = new Reader(copy);
  const subgraphs = reader.vector(reader.root(), MODEL_SUBGRAPHS);
  const subgraph = reader.table(subgraphs, subgraphIndex);
  const tensors = reader.vector(subgraph, SUBGRAPH_TENSORS);
  const ends = [reader.vector(subgraph, SUBGRAPH_INPUTS), reader.vector(subgraph, SUBGRAPH_OUTPUTS)];
  for (const list of ends) {
    for (let i = 0; i < list.length; i++) {
      const tensor = reader.table(tensors, reader.int(list, i));
      const signature = reader.vector(tensor, TENSOR_SHAPE_SIGNATURE);
      const shape = reader.vector(tensor, TENSOR_SHAPE);
      if (signature.length !== 4 || shape.length !== 4) {
        throw new Error(`signature ${name} does not take (1, H, W, C) images`);
      }
      const pinned = [1, height, width, reader.int(signature, 3)];
      for (let d = 0; d < 4; d++) {
        reader.view.setInt32(signature.start + 4 * d, pinned[d], true);
        reader.view.setInt32(shape.start + 4 * d, pinned[d], true);
      }
    }
  }
  return copy;
}
