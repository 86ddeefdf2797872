import sitq
import pandas as pd
import numpy as np
from concurrent.futures import ThreadPoolExecutor
import time

class ParallelDataProcessor:
    """Parallel data processor using sitq."""
    
    def __init__(self, num_workers=4):
        self.backend = sitq.SQLiteBackend("parallel_processing.db")
        self.queue = sitq.TaskQueue(backend=self.backend)
        self.workers = [
            sitq.Worker(self.queue, worker_id=f"worker_{i}")
            for i in range(num_workers)
        ]
    
    def process_chunk(self, chunk_data: List[Dict], chunk_id: int) -> Dict:
        """Process a chunk of data."""
        print(f"Processing chunk {chunk_id} with {len(chunk_data)} records")
        
        # Simulate processing time
        time.sleep(1)
        
        # Process each record
        processed = []
        for record in chunk_data:
            processed_record = {
                **record,
                "processed_value": record["value"] * np.random.rand(),
                "chunk_id": chunk_id,
                "processed_at": time.time()
            }
            processed.append(processed_record)
        
        return {
            "chunk_id": chunk_id,
            "processed_count": len(processed),
            "data": processed
        }
    
    def split_data(self, data: List[Dict], chunk_size: int) -> List[List[Dict]]:
        """Split data into chunks."""
        chunks = []
        for i in range(0, len(data), chunk_size):
            chunk = data[i:i + chunk_size]
            chunks.append(chunk)
        return chunks
    
    def process_data_parallel(self, data: List[Dict], chunk_size: int = 25) -> List[Dict]:
        """Process data in parallel chunks."""
        print(f"Processing {len(data)} records in parallel...")
        
        # Split data into chunks
        chunks = self.split_data(data, chunk_size)
        print(f"Split into {len(chunks)} chunks")
        
        # Start workers
        for worker in self.workers:
            worker.start()
        
        try:
            # Enqueue all chunks
            task_ids = []
            for i, chunk in enumerate(chunks):
                task = sitq.Task(
                    function=self.process_chunk,
                    args=[chunk, i]
                )
                task_id = self.queue.enqueue(task)
                task_ids.append(task_id)
            
            # Wait for all tasks to complete
            results = []
            for task_id in task_ids:
                result = self.queue.get_result(task_id, timeout=60)
                if result.is_error:
                    print(f"Task {task_id} failed: {result.error}")
                else:
                    results.append(result.value)
            
            # Combine results
            all_processed_data = []
            for result in results:
                all_processed_data.extend(result["data"])
            
            return all_processed_data
        
        finally:
            # Stop workers
            for worker in self.workers:
                worker.stop()
    
    def generate_sample_data(self, num_records: int = 1000) -> List[Dict]:
        """Generate sample data for processing."""
        return [
            {
                "id": i,
                "value": np.random.randn(),
                "category": np.random.choice(["A", "B", "C"]),
                "timestamp": time.time() - np.random.randint(0, 86400)
            }
            for i in range(num_records)
        ]

# Use parallel processor
processor = ParallelDataProcessor(num_workers=4)
sample_data = processor.generate_sample_data(1000)

start_time = time.time()
processed_data = processor.process_data_parallel(sample_data, chunk_size=50)
end_time = time.time()

print(f"Processed {len(processed_data)} records in {end_time - start_time:.2f} seconds")
