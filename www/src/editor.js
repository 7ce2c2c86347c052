// Layer list editor: one row per layer of a ModelConfig, with the output shape of each layer
// as the wasm core computes it. Every edit calls `onChange` with the new config.

const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'linear', 'softmax'];

const NEW_LAYERS = {
  conv2d: () => ({ type: 'conv2d', filters: 16, kernel_size: [3, 3], padding: 'valid', activation: 'relu' }),
  max_pool2d: () => ({ type: 'max_pool2d', pool_size: [2, 2] }),
  dense: () => ({ type: 'dense', units: 64, activation: 'relu' }),
  dropout: () => ({ type: 'dropout', rate: 0.25 }),
};

// Convolution and pooling go before the flatten layer, dense and dropout before the last layer.
function insertIndex(layers, type) {
  const flatten = layers.findIndex((l) => l.type === 'flatten');
  if ((type === 'conv2d' || type === 'max_pool2d') && flatten >= 0) return flatten;
  return Math.max(0, layers.length - 1);
}

function numberInput(value, min, onInput, step = '1') {
  const input = document.createElement('input');
  input.type = 'number';
  input.min = String(min);
  input.step = step;
  input.value = String(value);
  input.addEventListener('change', () => onInput(Number(input.value)));
  return input;
}

function selectInput(options, value, onInput) {
  const select = document.createElement('select');
  for (const option of options) {
    const element = document.createElement('option');
    element.value = option;
    element.textContent = option;
    select.append(element);
  }
  select.value = value;
  select.addEventListener('change', () => onInput(select.value));
  return select;
}

function labelled(text, input) {
  const label = document.createElement('label');
  label.className = 'inline';
  label.append(`${text} `, input);
  return label;
}

export class LayerEditor {
  constructor(tbody, addButtons, onChange) {
    this.tbody = tbody;
    this.onChange = onChange;
    this.config = null;
    this.rows = [];
    for (const button of addButtons) {
      button.addEventListener('click', () => {
        const type = button.dataset.add;
        const layers = this.config.layers;
        layers.splice(insertIndex(layers, type), 0, NEW_LAYERS[type]());
        this.changed();
      });
    }
  }

  setConfig(config) {
    this.config = structuredClone(config);
    this.render();
  }

  getConfig() {
    return structuredClone(this.config);
  }

  changed() {
    this.render();
    this.onChange(this.getConfig());
  }

  // Fills the output and parameter columns from describeModel rows (or clears them).
  showShapes(rows) {
    this.rows.forEach((row, i) => {
      const info = rows?.[i];
      row.output.textContent = info ? info.output_shape.join('×') : '';
      row.params.textContent = info ? info.params.toLocaleString('en') : '';
    });
  }

  render() {
    this.tbody.replaceChildren();
    this.rows = [];
    this.config.layers.forEach((layer, index) => {
      const tr = document.createElement('tr');
      const settings = document.createElement('td');
      settings.append(...this.settingsFor(layer));
      const output = document.createElement('td');
      const params = document.createElement('td');
      params.className = 'num';
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'remove';
      remove.dataset.testid = `remove-layer-${index}`;
      remove.addEventListener('click', () => {
        this.config.layers.splice(index, 1);
        this.changed();
      });
      const cells = [String(index), layer.type].map((text) => {
        const td = document.createElement('td');
        td.textContent = text;
        return td;
      });
      const actions = document.createElement('td');
      actions.append(remove);
      tr.append(...cells, settings, output, params, actions);
      this.tbody.append(tr);
      this.rows.push({ output, params });
    });
  }

  settingsFor(layer) {
    const set = (key) => (value) => {
      layer[key] = value;
      this.changed();
    };
    const square = (key) => (value) => {
      layer[key] = [value, value];
      this.changed();
    };
    switch (layer.type) {
      case 'conv2d':
        return [
          labelled('filters', numberInput(layer.filters, 1, set('filters'))),
          labelled('kernel', numberInput(layer.kernel_size[0], 1, square('kernel_size'))),
          labelled('padding', selectInput(['valid', 'same'], layer.padding ?? 'valid', set('padding'))),
          labelled('activation', selectInput(ACTIVATIONS, layer.activation ?? 'linear', set('activation'))),
        ];
      case 'max_pool2d':
      case 'avg_pool2d':
        return [
          labelled('size', numberInput(layer.pool_size[0], 1, square('pool_size'))),
          labelled('kind', selectInput(['max_pool2d', 'avg_pool2d'], layer.type, set('type'))),
        ];
      case 'dense':
        return [
          labelled('units', numberInput(layer.units, 1, set('units'))),
          labelled('activation', selectInput(ACTIVATIONS, layer.activation ?? 'linear', set('activation'))),
        ];
      case 'dropout':
        return [labelled('rate', numberInput(layer.rate, 0, set('rate'), '0.05'))];
      case 'activation':
        return [labelled('activation', selectInput(ACTIVATIONS, layer.activation, set('activation')))];
      default:
        return [];
    }
  }
}
