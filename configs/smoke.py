# A CPU run of a few seconds on the tiny generated corpus; exercises every part of train.py.
#   python train.py configs/smoke.py
out_dir = "out/smoke"
overwrite = True  # a smoke run may replace the previous smoke run
corpus = "configs/corpus_tiny.py"
train_data = ["pretrain"]
val_data = ["pretrain_val"]

n_layer, n_head, n_embd, block_size = 2, 2, 64, 256
batch_size = 8
max_iters = 40
warmup_iters = 5
learning_rate = 3e-3
eval_interval = 20
eval_iters = 2
log_interval = 1
ckpt_interval = 20
